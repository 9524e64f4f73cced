"""Who is calling: the api's access tokens verified (keys by `kid`), the caller's account read
per request (disabled? token version current?), and the permissions their roles carry.

Used by every service that accepts the api's tokens (msm-api itself, msm-provisioner)."""
