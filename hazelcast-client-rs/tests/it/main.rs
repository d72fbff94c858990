//! The client's integration tests, one binary (each former test file a module): byte-exact
//! codecs, fake members (hostile, silent, dropping connections), and real Hazelcast members
//! started by [`hazelcast_members`] with cluster names and ports of their own.
//!
//! [`fake`] is a member that answers what each test tells it to.

mod fake;

mod backup_timeout;
mod codec;
mod examples;
#[cfg(feature = "fuzzing")]
mod fuzz_corpus;
mod heartbeat;
mod hostile_member;
mod member_kill;
mod member_restart;
mod member_stats;
mod python_crosscheck;
mod real_members;
mod typed_map_and_lock_guards;
mod unlock_resend;
mod workload;
