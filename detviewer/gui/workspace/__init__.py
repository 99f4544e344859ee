"""The Evaluation workspace: a dataset checked as a whole, every number one click from the images behind it."""
