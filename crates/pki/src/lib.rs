//! stub
pub mod cert;
pub mod keys;
pub mod pkcs12;
pub mod protect;
mod x509;
