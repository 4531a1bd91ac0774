//! Several gateway replicas on one shared Redis, against one standalone
//! sandbox: what one replica records, another reads; limits hold in total;
//! a crashed replica's claimed deliveries are applied by another.

mod store_outage;
