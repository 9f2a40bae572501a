package entralab

// ClientAssertionJWTBearer is the client_assertion_type of a certificate
// sign-in, for the tests.
const ClientAssertionJWTBearer = clientAssertionJWTBearer
