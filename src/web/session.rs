//! Sessions as the web edge sees them: the storage lives in
//! [`crate::store::sessions`]; cookies are read and written by the handlers.

pub use crate::store::sessions::{
    ABSOLUTE, IDLE, Principal, SessionData, create, destroy, destroy_all, destroy_others, load,
    load_staff,
};
