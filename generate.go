package main

// Regenerate graph/ from schema.graphqls and gqlgen.yml.
//go:generate go tool gqlgen generate --config gqlgen.yml
