"""The `hub` command line: argument parsing and printing only; logic lives in the client."""
