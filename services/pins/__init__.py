"""pins: the business register, PIN letters, linking accounts to businesses (issue 4)."""
