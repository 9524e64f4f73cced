"""MSM provisioner: fleet provisioning by claim and certificate lifecycle."""
