package config

import (
	_ "c2sweep/internal/source/all" // the registry validation reads
)
