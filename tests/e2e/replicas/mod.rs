//! Several gateway replicas on one shared Redis, against one standalone
//! sandbox: what one replica records, another reads; limits hold in total;
//! a crashed replica's claimed deliveries are applied by another.

mod crashes;
mod harness;
mod inbox_fanout;
mod nginx_routing;
pub(crate) mod redis_server;
mod shared_state;
mod standalone_sandbox;
mod state_copy;
mod store_outage;
