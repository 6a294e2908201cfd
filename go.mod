module github.com/cardgate/cardgate

go 1.26
