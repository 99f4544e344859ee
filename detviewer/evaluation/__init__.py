"""Qt-free dataset evaluation: matching, COCO table, PR / F1, confusion matrix, TIDE errors, compare, anchor coverage."""
