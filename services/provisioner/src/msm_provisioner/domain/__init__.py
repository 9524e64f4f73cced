"""Pure logic of the provisioner: no I/O, no clock reads (callers pass `now`)."""
