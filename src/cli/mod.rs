//! The top layer: the command line (`args`, clap definitions only), the documented exit
//! codes (`exit_code`) and one thin function per subcommand (`commands`) from parsed options
//! to an exit code. The core below never sees a clap type.

pub(crate) mod args;
pub(crate) mod commands;
pub mod exit_code;
