"""Validation rules: identifiers, reference lists, the findings catalogue and the employee-file checks."""
