"""Request and response models: they validate requests and generate the OpenAPI document."""
