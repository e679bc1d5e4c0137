"""`hub app` (alias `hub dashboard`): the web front end, served by Python over the same client as
the CLI. The server builds every transaction with the client's bindings (`hub.app.wallet`) and the
page only asks the user's browser wallet to sign and send it; no key reaches the page or the server."""
