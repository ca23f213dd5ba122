//go:build !franzssb

package main

import "github.com/twmb/franz-go/pkg/kgo"

// hasServerSideBalancer: this franz-go release has no kgo.ServerSideBalancer (before 1.22.0).
const hasServerSideBalancer = false

func serverSideBalancer() []kgo.Opt { return nil }
