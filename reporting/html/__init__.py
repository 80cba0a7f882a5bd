"""report.html: the page, its sections, plots and the SVG they are drawn with."""
