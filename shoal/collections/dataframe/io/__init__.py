"""Reading and writing dataframes: pandas objects, delayed values, CSV and Parquet."""
