"""The storage service's HTTP data plane: signed tus 1.0.0 upload locations."""
