module github.com/ocirt/ocirt/bindings/go

go 1.24
