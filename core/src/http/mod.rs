//! The write transaction: the HTTP/1.1 request for `/api/v2/write` (or the
//! v1 `/write`), the response reader, error bodies and the outcome a caller
//! acts on. (Being built: see issue 4.)
