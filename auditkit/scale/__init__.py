"""Scale-out runners: compute a suite's job chunks on a cluster, with results identical to the local runner."""
