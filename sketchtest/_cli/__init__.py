"""The command line on top of the library: argument parsing, file readers, the memory plan and the report."""
