"""Running the portal: local runner, shared start/stop helpers, mail catcher, NATS configs."""
