#!/bin/sh
# Packages installed during an image build do not start their services.
exit 101
