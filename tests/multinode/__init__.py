"""Several nodes sharing one database: leases, takeover, health."""
