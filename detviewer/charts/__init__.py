"""Charts (pyqtgraph): PR / F1 curves, confusion matrix, error breakdown; embedded in the window and exported offscreen."""
