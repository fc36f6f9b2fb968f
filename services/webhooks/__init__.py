"""Webhook subscriptions: tenant events as signed NL GOV CloudEvents on a partner's URL."""
