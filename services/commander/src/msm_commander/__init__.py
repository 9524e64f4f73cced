"""MSM commander: command delivery, ack tracking, retries and expiry."""
