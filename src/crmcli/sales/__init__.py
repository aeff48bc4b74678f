"""Sales: companies (accounts), deals and their stages, the pipeline rules."""
