"""accounts: users, e-mail confirmation, the initial password, login, sessions, memberships."""
