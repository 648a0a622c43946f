"""Pictures without pyplot: figures on the Agg canvas and the attention-map heatmap."""
