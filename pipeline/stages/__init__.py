"""Pure, typed functions over batches: no Kafka, no database, tested on their own."""
