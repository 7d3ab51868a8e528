module github.com/trace2x/trace2x/testdata/gen

go 1.22
