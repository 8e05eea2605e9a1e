"""sketchplot: neural sketches drawn by a GRBL pen plotter."""
