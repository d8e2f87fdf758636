"""lakecode: a terminal coding agent for the models a Databricks workspace serves."""

__version__ = "0.1.0"
