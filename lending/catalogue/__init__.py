"""What the portal lends and at which price: loan products, the pure money engine, quotes and the calculator."""
