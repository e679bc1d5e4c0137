"""`hub dashboard`: a local web page over the client (providers, stakes, nodes, pools, training
progress, rewards), the seed's front end served by Python."""
