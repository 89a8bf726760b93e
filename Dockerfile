# Production image: the same code and settings as `make run`, configured by environment.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0
EXPOSE 8000
CMD ["gunicorn", "storefront.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
