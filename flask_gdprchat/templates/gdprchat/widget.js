/* flask-gdprchat widget */
