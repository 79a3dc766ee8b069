package memorygateway

// Version is this client's version. It follows the gateway's: a client works
// with the gateway built from the same commit of this repository, and with
// any later gateway whose schema keeps the operations in operations.graphql
// (the gateway adds to its schema; it does not remove or rename).
const Version = "0.1.0"

// ServerVersions says which gateway versions this client works with.
const ServerVersions = "memory-gateway 0.x built from this repository at the client's commit or later"
