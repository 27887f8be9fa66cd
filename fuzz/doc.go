// Package fuzz holds fuzz targets that cross codec boundaries, and the script
// (run.sh) that runs every fuzz target in the module. Per-codec targets live
// beside their case tables in amf0, chunkcodec and flvmux.
package fuzz
