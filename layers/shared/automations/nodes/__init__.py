"""Node executors: each turns a node's resolved parameters into a NodeOutcome."""
