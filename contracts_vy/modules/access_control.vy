# pragma version 0.4.3
# pragma nonreentrancy off
# The lock is not needed here (role changes make no external call and send no INJ);
# the contracts that use this module turn it on for their own functions.
"""
@title Role-based access control
@license MIT
@notice Roles are bytes32 ids; DEFAULT_ADMIN_ROLE (0x00) administers every role. Other contracts
        never cache a role: they ask the hub's `hasRole` at call time, so a revocation takes
        effect everywhere in the same block.
@custom:security The admin can grant and revoke every role, including its own. Renouncing the
        last admin freezes the role sets for good; that is allowed on purpose (a DAO may want it).
"""

from interfaces import IAccessControl

implements: IAccessControl

# @dev The role that administers every role (0x00, as in the seed).
DEFAULT_ADMIN_ROLE: public(constant(bytes32)) = empty(bytes32)

# @dev role => account => holds the role.
hasRole: public(HashMap[bytes32, HashMap[address, bool]])


@deploy
def __init__():
    self._grant_role(DEFAULT_ADMIN_ROLE, msg.sender)


@external
def grantRole(role: bytes32, account: address):
    """
    @notice Give `role` to `account`. Only the admin may do this.
    @param role The role id, e.g. keccak256("VALIDATOR_ROLE").
    @param account The new holder; not the zero address.
    """
    self._check_role(DEFAULT_ADMIN_ROLE, msg.sender)
    assert account != empty(address), "AccessControl: zero account"
    assert not self.hasRole[role][account], "AccessControl: role already granted"
    self._grant_role(role, account)


@external
def revokeRole(role: bytes32, account: address):
    """
    @notice Take `role` away from `account`. Only the admin may do this.
    @param role The role id.
    @param account The holder losing the role.
    """
    self._check_role(DEFAULT_ADMIN_ROLE, msg.sender)
    self._revoke_role(role, account)


@external
def renounceRole(role: bytes32, account: address):
    """
    @notice Give up one of your own roles.
    @param role The role id.
    @param account Must be the caller: nobody renounces for someone else.
    """
    assert account == msg.sender, "AccessControl: can only renounce for self"
    self._revoke_role(role, account)


@internal
@view
def _check_role(role: bytes32, account: address):
    """@dev Revert unless `account` holds `role`."""
    assert self.hasRole[role][account], "AccessControl: missing role"


@internal
def _grant_role(role: bytes32, account: address):
    """@dev Give `role` to `account` (it must not hold it) and log it."""
    self.hasRole[role][account] = True
    log IAccessControl.RoleGranted(role=role, account=account, sender=msg.sender)


@internal
def _revoke_role(role: bytes32, account: address):
    """@dev Take `role` from `account` (it must hold it) and log it."""
    assert self.hasRole[role][account], "AccessControl: role not held"
    self.hasRole[role][account] = False
    log IAccessControl.RoleRevoked(role=role, account=account, sender=msg.sender)
