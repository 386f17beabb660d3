package wire

// The generated code is committed, so building needs no protoc. To change
// the protocol, edit sky.proto and run `go generate ./wire` with protoc
// (Debian: protobuf-compiler) and protoc-gen-go at the version in go.mod:
//   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12

//go:generate protoc --go_out=. --go_opt=paths=source_relative sky.proto
