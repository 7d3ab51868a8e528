// Package perfettopb holds Go types for the subset of Perfetto's trace
// protobuf schema (perfetto.protos.Trace and what it contains) that trace2x
// writes to .pftrace files.
//
// perfetto.proto keeps upstream google/perfetto's message names, field names,
// field numbers and types; README.md lists the upstream file of every message.
// perfetto.pb.go is generated from it and checked in, so building and testing
// need no protobuf compiler.
//
// To regenerate, install protoc (Debian: apt-get install protobuf-compiler;
// 3.21.12 was used) and protoc-gen-go at the google.golang.org/protobuf
// version in go.mod:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go generate ./convert/perfetto/perfettopb
//
// protoc runs from the module root so that the file registers in the global
// protobuf registry as convert/perfetto/perfettopb/perfetto.proto rather than
// a bare perfetto.proto that another package could also claim.
package perfettopb

//go:generate protoc --proto_path=../../.. --go_out=../../.. --go_opt=paths=source_relative convert/perfetto/perfettopb/perfetto.proto
