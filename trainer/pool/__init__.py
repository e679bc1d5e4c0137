"""The pool bridge: a training run that belongs to an on-chain pool.

`join` turns a pool into a run and its epochs into paid work (`work_queue`), `binding` ties the
libp2p peer to the node key, `run_config` builds the run from the pool's metadata, and the pool's
aux service (`aux_service`) runs the aux peer and the audit (`audit`) of every work claim.
Depends on `trainer.training` and `hub`; nothing in `trainer.training` imports this package.
"""
