#!/bin/sh
# The joxit UI's configuration step: listen port, optional /v2 proxy, title. The page is
# rewritten from a template on each start, so a restart with a changed title shows the new one.
set -e
port="${NGINX_LISTEN_PORT:-80}"
{
    echo 'server {'
    # Like joxit's image: one listen line, so NGINX_LISTEN_PORT may also be address:port.
    echo "    listen $port;"
    echo '    server_name localhost;'
    echo '    root /usr/share/nginx/html;'
    echo '    location / { index index.html; }'
    if [ -n "${NGINX_PROXY_PASS_URL}" ]; then
        echo '    location /v2 {'
        echo "        proxy_pass ${NGINX_PROXY_PASS_URL};"
        echo '        proxy_set_header Host $http_host;'
        echo '        proxy_set_header X-Forwarded-Proto $scheme;'
        echo '        client_max_body_size 0;'
        echo '    }'
    fi
    echo '}'
} > /etc/nginx/conf.d/default.conf
title=$(printf '%s' "${REGISTRY_TITLE:-Docker Registry UI}" \
    | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' -e 's/[\\|&]/\\&/g')
sed "s|__REGISTRY_TITLE__|$title|g" /etc/registry-ui/index.html.template > /usr/share/nginx/html/index.html
