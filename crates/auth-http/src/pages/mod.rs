//! The hosted HTML pages a browser is sent to: sign-in, registration,
//! consent, the device page, the account page and upstream sign-in; the
//! tera templates beside them (`templates/`, compiled into the binary).
pub(crate) mod account;
pub(crate) mod device;
pub(crate) mod factors;
pub(crate) mod flow;
pub(crate) mod mail_links;
pub(crate) mod register;
pub(crate) mod render;
pub(crate) mod second_step;
pub(crate) mod sign_in;
pub(crate) mod upstream;
