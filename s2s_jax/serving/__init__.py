"""The SageMaker inference contract (spec §3): request formats, dynamic batching, the HTTP app."""
